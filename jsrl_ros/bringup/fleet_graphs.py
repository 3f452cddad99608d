"""The fleet's two roles as node graphs: an actor (one robot or sim, in its own namespace) and the learner side.

An *actor* runs the grasping graph's control loop and recorder in namespace ``actor_<id>``, plus
``episode_sender`` (its finished episodes to the learner) and ``weights_receiver`` (the
learner's checkpoints to its arbiter). The *learner side* runs the learner, the curriculum
manager, ``episode_receiver`` and ``weights_broadcaster`` in the root namespace. They meet on
the absolute ``/fleet/...`` topics (docs/fleet.md). With ``curriculum:=fleet`` (default) the one
curriculum manager publishes its guide-step choices on ``/fleet/guide_step_choices`` and every
actor's arbiter reads them there (a remap, no relay node): all actors act at the fleet's h, and
every actor's evaluations feed that one rule. ``curriculum:=per_actor`` runs a curriculum
manager inside each actor instead, fed by that actor's own episodes. Both roles read their secret
keys from ``keys`` (a folder made by ``python -m jsrl_ros.fleet.keys``): an actor its own
``actor_<id>.key`` and ``learner.key``, the learner every allowed actor's and its own.

Node sections of the scenario YAML (``recorder:``) name nodes in the root namespace only (rcl),
so :func:`namespaced_sections` re-keys them (``/actor_3/recorder:``) for a namespaced graph.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from jsrl_ros.bringup.specs import Graph, GraphDef, NodeSpec, Option, check_options, flag
from jsrl_ros.contract import topics
from jsrl_ros.fleet.keys import LEARNER_KEY, LEARNER_PUBLIC_KEY, actor_key_name, read_key, read_public_key
from jsrl_ros.fleet.wire import MAX_ACTOR_ID

CURRICULA = ("fleet", "per_actor")
DEFAULT_KEYS = "runs/fleet/keys"
KEYS_HELP = (f"the folder of the fleet's keys ({actor_key_name(1)}, ..., {LEARNER_KEY}, {LEARNER_PUBLIC_KEY}; make them with "
             f"python -m jsrl_ros.fleet.keys FOLDER --actors 1,2)")
#: curriculum:=fleet: the manager publishes, and every arbiter reads, the one curriculum's choices here
FLEET_CHOICES = ((topics.GUIDE_STEP_CHOICES, topics.FLEET_GUIDE_STEP_CHOICES),)


def actor_namespace(actor_id: int) -> str:
    return f"actor_{actor_id}"


def parse_actor_ids(text: str, name: str) -> list[int]:
    """``"1,2,5"`` -> ``[1, 2, 5]``; ValueError naming the option otherwise."""
    try:
        ids = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        ids = []
    if not ids or not all(0 <= i <= MAX_ACTOR_ID for i in ids) or len(set(ids)) != len(ids):
        raise ValueError(f"{name}:={text!r}: give distinct actor ids in [0, {MAX_ACTOR_ID}], comma-separated (1,2)")
    return ids


FLEET_ACTOR_OPTIONS = (
    Option("actor_id", "1", "this actor's id (the learner's allowed_actors must list it); its graph runs in "
           "namespace actor_<id> (a second actor of the same id on the domain refuses to start)"),
    Option("guide", "scripted", "who guides: the privileged-state script or a BC policy", ("scripted", "bc")),
    Option("obs", "state", "observations: the state vector, or camera image + proprio", ("state", "image")),
    Option("curriculum", "fleet", "fleet: act at the learner's one curriculum; per_actor: a curriculum manager "
           "of this actor's own", CURRICULA),
    Option("mode", "curriculum", "per_actor curriculum: JSRL curriculum or JSRL-Random", ("curriculum", "random")),
    Option("headless", "true", "no camera frames in state mode", ("true", "false")),
    Option("bc_path", "", "for guide:=bc: a BCGuide.save() file"),
    Option("keys", DEFAULT_KEYS, KEYS_HELP + ": this actor's and the learner's"),
    Option("out_dir", "", "episode bags, the outbox and the received checkpoint (default runs/fleet/actor_<id>)"),
)


def key_files(keys: str, actors: list[int], learner_key: str) -> tuple[dict[int, str], str]:
    """Each actor's key file and the learner's ``learner_key`` (LEARNER_KEY or LEARNER_PUBLIC_KEY) in the folder
    ``keys``."""
    return {a: str(Path(keys) / actor_key_name(a)) for a in actors}, str(Path(keys) / learner_key)


#: the gateway nodes' parameters that name key files (``actor_keys``: ``ID=FILE`` entries), and their readers
KEY_PARAMETERS = {"key_file": read_key, "actor_keys": read_key, "learner_public_key_file": read_public_key}


def check_key_files(graph: Graph) -> None:
    """Every key file the graph's nodes will read, checked before any starts: one ConfigError naming the
    missing or unusable file (keys are required for the fleet roles)."""
    for spec in graph.nodes:
        for name, read in KEY_PARAMETERS.items():
            value = spec.params.get(name)
            for path in value if isinstance(value, list) else [value] if value else []:
                read(path.partition("=")[2] if name == "actor_keys" else path, f"{spec.name}.{name} (--keys)")


def fleet_actor(actor_id: str = "1", guide: str = "scripted", obs: str = "state", curriculum: str = "fleet",
                mode: str = "curriculum", headless: str = "true", bc_path: str = "", keys: str = DEFAULT_KEYS,
                out_dir: str = "") -> Graph:
    """One actor: bridge -> (observation) -> arbiter -> bridge, recorder -> episode_sender -> /fleet/episodes,
    /fleet/weights -> weights_receiver -> arbiter; all in namespace actor_<id>."""
    check_options(FLEET_ACTOR_OPTIONS, locals())
    ident = parse_actor_ids(actor_id, "actor_id")
    if len(ident) != 1:
        raise ValueError(f"actor_id:={actor_id!r}: one actor id")
    ns, image, per_actor = actor_namespace(ident[0]), obs == "image", curriculum == "per_actor"
    own_key, learner_key = key_files(keys, ident, LEARNER_PUBLIC_KEY)  # checked by check_key_files before the start
    out = Path(out_dir or f"runs/fleet/{ns}")
    episodes, seed = str(out / "episodes"), {"seed": ident[0]}  # every actor explores differently
    bridge: dict[str, Any] = {"obs_mode": obs, "publish_camera": not flag(headless), **seed}
    if guide != "scripted":
        bridge["guide_target"] = ""
    arbiter: dict[str, Any] = {"obs_mode": obs, "guide": guide, **seed, **({"guide_path": bc_path} if bc_path else {})}
    choices = () if per_actor else FLEET_CHOICES
    nodes = [
        NodeSpec("sim_bridge", "sim_bridge", bridge, paces=True),
        *([NodeSpec("observation", "observation")] if image else []),
        NodeSpec("policy_arbiter", "policy_arbiter", arbiter, remaps=choices),
        NodeSpec("recorder", "recorder", {"episode_dir": episodes, "guide_type": guide, **seed,
                                          "image_topic": topics.OBS_IMAGE if image else ""}),
        NodeSpec("episode_sender", "episode_sender", {"actor_id": ident[0], "episode_dir": episodes,
                                                      "outbox_dir": str(out / "fleet" / "outbox"),
                                                      "key_file": own_key[ident[0]]}),
        NodeSpec("weights_receiver", "weights_receiver",
                 {"checkpoint_path": str(out / "checkpoints" / "explorer.pt"),
                  "learner_public_key_file": learner_key}),
        *([NodeSpec("curriculum_manager", "curriculum_manager",
                    {"mode": mode, "state_file": str(out / "curriculum.json")})] if per_actor else []),
    ]
    return Graph("grasping_sim.yaml", nodes, namespace=ns)


FLEET_LEARNER_OPTIONS = (
    Option("allowed_actors", "1", "the actor ids whose episodes are accepted, comma-separated (1,2); any other "
           "is refused"),
    Option("learner", "qtopt", "the explorer's learner", ("qtopt", "iql")),
    Option("obs", "state", "observations: the state vector, or camera image + proprio", ("state", "image")),
    Option("curriculum", "fleet", "fleet: one curriculum for every actor, run here; per_actor: none here",
           CURRICULA),
    Option("mode", "curriculum", "JSRL curriculum, or JSRL-Random", ("curriculum", "random")),
    Option("keys", DEFAULT_KEYS, KEYS_HELP + ": every allowed actor's and the learner's"),
    Option("out_dir", "runs/fleet/learner", "received episodes, checkpoints and the curriculum state go here"),
)


def fleet_learner(allowed_actors: str = "1", learner: str = "qtopt", obs: str = "state", curriculum: str = "fleet",
                  mode: str = "curriculum", keys: str = DEFAULT_KEYS, out_dir: str = "runs/fleet/learner") -> Graph:
    """The learner side: /fleet/episodes -> episode_receiver -> learner (and curriculum manager),
    learner -> weights_broadcaster -> /fleet/weights; the curriculum's choices on /fleet/guide_step_choices."""
    check_options(FLEET_LEARNER_OPTIONS, locals())
    allowed, out = parse_actor_ids(allowed_actors, "allowed_actors"), Path(out_dir)
    episodes = str(out / "episodes")
    actor_keys, learner_key = key_files(keys, allowed, LEARNER_KEY)
    nodes = [
        NodeSpec("episode_receiver", "episode_receiver", {
            "allowed_actors": allowed, "episode_dir": episodes, "journal": str(out / "fleet" / "inbox.log"),
            "actor_keys": [f"{a}={path}" for a, path in actor_keys.items()]}),
        NodeSpec("learner", "learner", {"learner": learner, "obs_mode": obs, "episode_dir": episodes,
                                        "checkpoint_path": str(out / "checkpoints" / "explorer.pt")}),
        NodeSpec("weights_broadcaster", "weights_broadcaster", {"key_file": learner_key}),
        *([] if curriculum == "per_actor" else [
            NodeSpec("curriculum_manager", "curriculum_manager",
                     {"mode": mode, "state_file": str(out / "curriculum.json")}, remaps=FLEET_CHOICES)]),
    ]
    return Graph("grasping_sim.yaml", nodes)


def namespaced_sections(params: dict[str, Any], graph: Graph) -> dict[str, Any]:
    """A ROS params-file mapping whose root-namespace node sections (``recorder``, ``/recorder``) reach the
    graph's nodes in its namespace instead (``/actor_3/recorder``); wildcard sections stay as they are."""
    if not graph.namespace:
        return params
    names = {spec.name for spec in graph.nodes}
    return {f"/{graph.namespace}/{key.lstrip('/')}" if key.lstrip("/") in names else key: value
            for key, value in params.items()}


FLEET_GRAPHS: dict[str, GraphDef] = {
    "fleet_actor": GraphDef(fleet_actor, FLEET_ACTOR_OPTIONS, "one actor of a fleet: a sim's control loop and "
                            "recorder in namespace actor_<id>, episodes to and weights from the learner"),
    "fleet_learner": GraphDef(fleet_learner, FLEET_LEARNER_OPTIONS, "the learner side of a fleet: learner, "
                              "curriculum manager, episode receiver, weights broadcaster"),
}
