"""The node graphs, defined once: which nodes run, under which names, with which parameters.

``launch/*.launch.py`` (``ros2 launch``, for users with a ROS distro) and the embedded
bringup (``jsrl_bringup``, no launch package needed) both build their processes from here,
so the two can never drift. Every node reads the scenario's ROS-parameter YAML
(``config/<params_file>``); a graph's options (launch arguments / bringup flags) only add
per-node overrides on top of it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from jsrl_ros.bringup.fleet_graphs import FLEET_GRAPHS
from jsrl_ros.bringup.specs import Graph, GraphDef, NodeSpec, Option, check_options, flag
from jsrl_ros.contract import topics


def _learning_loop(out: Path, mode: str, recorder: dict[str, Any], learner: dict[str, Any]) -> list[NodeSpec]:
    """The nodes every JSRL graph runs behind its arbiter: the recorder writes episode bags to
    OUT/episodes, the learner trains on them (checkpoint OUT/checkpoints/explorer.pt), the curriculum
    manager moves the guide-step (state OUT/curriculum.json). ``recorder``/``learner``: their extra params."""
    episodes = str(out / "episodes")
    return [
        NodeSpec("recorder", "recorder", {"episode_dir": episodes, **recorder}),
        NodeSpec("learner", "learner", {**learner, "episode_dir": episodes,
                                        "checkpoint_path": str(out / "checkpoints" / "explorer.pt")}),
        NodeSpec("curriculum_manager", "curriculum_manager", {"mode": mode, "state_file": str(out / "curriculum.json")}),
    ]


def _keyboard(wanted: bool) -> list[NodeSpec]:
    """The keyboard teleop (in its own terminal), where a human guides and a window is wanted."""
    return [NodeSpec("teleop_keyboard", "teleop_keyboard", terminal=True)] if wanted else []


def _viewer(wanted: bool) -> list[NodeSpec]:
    """The browser view for a human guide (camera, who is in control, h, success; docs/human_guide.md)."""
    return [NodeSpec("viewer", "viewer")] if wanted else []


def _gui(value: str) -> dict[str, Any]:
    """The sim bridge's override for gui:=true: the env opens the simulator's own window."""
    return {"gui": True} if flag(value) else {}


GUI = Option("gui", "false", "the simulator's own window (PyBullet GUI / MuJoCo viewer); needs a display",
             ("true", "false"))
VIEW = Option("view", "false", "a browser view for a human guide: live camera, who is in control, h, success "
              "(rerun web viewer; the URL is in the viewer's log)", ("true", "false"))


OBS = Option("obs", "state", "observations: the state vector, or camera image + proprio", ("state", "image"))

GRASPING_SIM_OPTIONS = (
    Option("guide", "scripted", "who guides: the privileged-state script, a BC policy or a human (keyboard/joystick)",
           ("scripted", "bc", "teleop")),
    Option("learner", "qtopt", "the explorer's learner", ("qtopt", "iql")),
    Option("mode", "curriculum", "JSRL curriculum, or JSRL-Random", ("curriculum", "random")),
    OBS,
    Option("headless", "false", "no camera frames in state mode (unless view:=true), no keyboard teleop window",
           ("true", "false")),
    GUI,
    VIEW,
    Option("bc_path", "", "for guide:=bc: a BCGuide.save() file, e.g. trained on `jsrl demos grasp` data"),
    Option("out_dir", "runs/grasping_sim", "episode bags, checkpoints and the curriculum state go here"),
)


def grasping_sim(guide: str = "scripted", learner: str = "qtopt", mode: str = "curriculum", obs: str = "state",
                 headless: str = "false", gui: str = "false", view: str = "false", bc_path: str = "",
                 out_dir: str = "runs/grasping_sim") -> Graph:
    """JSRL on the PyBullet grasping sim: bridge -> (observation) -> arbiter -> bridge, recorder ->
    learner -> arbiter, recorder -> curriculum manager -> arbiter."""
    check_options(GRASPING_SIM_OPTIONS, locals())
    image, teleop = obs == "image", guide == "teleop"
    bridge: dict[str, Any] = {"obs_mode": obs, "publish_camera": not flag(headless) or flag(view),
                              **_gui(gui)}
    if teleop:
        bridge["realtime"] = True  # a human needs the sim at the speed they watch
    if guide != "scripted":
        bridge["guide_target"] = ""  # the YAML's script runs only when it guides
    arbiter: dict[str, Any] = {"obs_mode": obs, "guide": {"teleop": "human"}.get(guide, guide)}
    if bc_path:
        arbiter["guide_path"] = bc_path
    nodes = [
        NodeSpec("sim_bridge", "sim_bridge", bridge, paces=True),
        *([NodeSpec("observation", "observation")] if image else []),
        NodeSpec("policy_arbiter", "policy_arbiter", arbiter),
        *_learning_loop(Path(out_dir), mode, {"guide_type": guide, "image_topic": topics.OBS_IMAGE if image else ""},
                        {"learner": learner, "obs_mode": obs}),
        *_keyboard(teleop and not flag(headless)),
        *_viewer(flag(view)),
    ]
    return Graph("grasping_sim.yaml", nodes)


RECORD_DEMOS_OPTIONS = (
    OBS,
    Option("headless", "false", "no keyboard teleop window (commands come from elsewhere, e.g. a joystick)",
           ("true", "false")),
    GUI,
    VIEW,
    Option("out_dir", "runs/demos", "the demo bags go to OUT_DIR/episodes"),
)


def record_demos(obs: str = "state", headless: str = "false", gui: str = "false", view: str = "false",
                 out_dir: str = "runs/demos") -> Graph:
    """A human drives every step (the guide-step exceeds any episode); every episode becomes a demo bag."""
    check_options(RECORD_DEMOS_OPTIONS, locals())
    image = obs == "image"
    nodes = [
        NodeSpec("sim_bridge", "sim_bridge", {"obs_mode": obs, **_gui(gui)}, paces=True),
        *([NodeSpec("observation", "observation")] if image else []),
        NodeSpec("policy_arbiter", "policy_arbiter", {"obs_mode": obs}),
        NodeSpec("recorder", "recorder", {"episode_dir": str(Path(out_dir) / "episodes"),
                                          "image_topic": topics.OBS_IMAGE if image else ""}),
        NodeSpec("curriculum_manager", "curriculum_manager"),
        *_keyboard(not flag(headless)),
        *_viewer(flag(view)),
    ]
    return Graph("record_demos.yaml", nodes)


REAL_ARM_OPTIONS = (
    Option("hardware", "fake", "a real arm's drivers, or the fake arm (no robot: CI, dry runs)", ("fake", "real")),
    Option("guide", "teleop", "who guides: a human (keyboard/joystick) or a BC policy", ("teleop", "bc")),
    Option("learner", "qtopt", "the explorer's learner", ("qtopt", "iql")),
    Option("mode", "curriculum", "JSRL curriculum, or JSRL-Random", ("curriculum", "random")),
    Option("command_mode", "twist", "arm commands: Cartesian velocity (MoveIt Servo) or joint targets "
           "(joint_trajectory_controller)", ("twist", "joint_trajectory")),
    Option("autostart", "false", "activate the bridge at start (real hardware; fake always does)", ("true", "false")),
    Option("headless", "false", "no keyboard teleop window", ("true", "false")),
    VIEW,
    Option("bc_path", "", "saved BC guide (jsrl demos train-bc) for guide:=bc"),
    Option("out_dir", "runs/real_arm", "episode bags, checkpoints and the curriculum state go here"),
)


def real_arm(hardware: str = "fake", guide: str = "teleop", learner: str = "qtopt", mode: str = "curriculum",
             command_mode: str = "twist", autostart: str = "false", headless: str = "false", view: str = "false",
             bc_path: str = "", out_dir: str = "runs/real_arm") -> Graph:
    """JSRL on a robot arm: the grasping graph with the real-arm bridge (camera + proprio observations)
    in place of the sim bridge; hardware:=fake adds the fake arm, activates the bridge and confirms
    every scene reset itself, and turns the deadman off (nobody holds one in CI)."""
    check_options(REAL_ARM_OPTIONS, locals())
    fake, teleop = hardware == "fake", guide == "teleop"
    bridge: dict[str, Any] = {"command_mode": command_mode, "autostart": fake or flag(autostart),
                              "auto_confirm": fake}
    if fake:
        bridge["safety"] = {"deadman": "off"}
        bridge["joint_state_source"] = "fake_arm"
    arbiter: dict[str, Any] = {"guide": "human" if teleop else "bc"}
    if bc_path:
        arbiter["guide_path"] = bc_path
    nodes = [
        *([NodeSpec("fake_arm", "fake_arm")] if fake else []),
        NodeSpec("real_arm_bridge", "real_arm_bridge", bridge),
        NodeSpec("observation", "observation"),
        NodeSpec("policy_arbiter", "policy_arbiter", arbiter),
        *_learning_loop(Path(out_dir), mode, {"guide_type": "human" if teleop else "bc"}, {"learner": learner}),
        *_keyboard(teleop and not flag(headless)),
        *_viewer(flag(view)),
    ]
    return Graph("real_arm.yaml", nodes)


ANTMAZE_SIM_OPTIONS = (
    Option("mode", "curriculum", "JSRL curriculum, or JSRL-Random", ("curriculum", "random")),
    Option("headless", "false", "no top-down camera frames on camera/image_raw (the learner never needs them; "
           "view:=true needs them)", ("true", "false")),
    GUI,
    VIEW,
    Option("out_dir", "runs/antmaze_sim", "episode bags, checkpoints and the curriculum state go here"),
)


def antmaze_sim(mode: str = "curriculum", headless: str = "false", gui: str = "false", view: str = "false",
                out_dir: str = "runs/antmaze_sim") -> Graph:
    """JSRL-IQL on AntMaze (the paper's IQL benchmark): the grasping graph's nodes over the sim bridge
    running jsrl/AntMaze-v0 on state vectors, the scripted AntMaze guide in the bridge."""
    check_options(ANTMAZE_SIM_OPTIONS, locals())
    nodes = [
        NodeSpec("sim_bridge", "sim_bridge", {"publish_camera": not flag(headless) or flag(view), **_gui(gui)},
                 paces=True),
        NodeSpec("policy_arbiter", "policy_arbiter"),
        *_learning_loop(Path(out_dir), mode, {}, {}),
        *_viewer(flag(view)),
    ]
    return Graph("antmaze_sim.yaml", nodes)


GRAPHS: dict[str, GraphDef] = {
    "grasping_sim": GraphDef(grasping_sim, GRASPING_SIM_OPTIONS, "JSRL on the grasping sim (train)"),
    "record_demos": GraphDef(record_demos, RECORD_DEMOS_OPTIONS, "human teleop demos on the grasping sim"),
    "real_arm": GraphDef(real_arm, REAL_ARM_OPTIONS, "JSRL on a robot arm (or the fake arm), behind the safety layer"),
    "antmaze_sim": GraphDef(antmaze_sim, ANTMAZE_SIM_OPTIONS, "JSRL-IQL on the AntMaze sim (train)"),
    **FLEET_GRAPHS,
}
