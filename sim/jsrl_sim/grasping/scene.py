"""The physical scene: a Franka Panda over a tray of objects, in a private DIRECT (or GUI) client.

Every ``TrayScene`` owns its own ``BulletClient``, so several envs coexist in one process.
Choices made for speed (measured, see docs/grasping_env.md):

* The Panda is loaded with its collision meshes as visuals: the stock visual meshes have
  ~40x the triangles and make a 64 px TinyRenderer frame take ~44 ms instead of ~3 ms.
* One inverse-kinematics solve per env step, then ``SUBSTEPS`` physics steps at 240 Hz
  under joint position control (10 Hz control), no per-substep Python work.
* Objects are placed resting on the tray floor at a random pose and settle briefly,
  rather than being dropped from a height.
"""
from __future__ import annotations

import os
import tempfile
from typing import Sequence

import numpy as np
import pybullet as p
import pybullet_data
from pybullet_utils.bullet_client import BulletClient

from jsrl_sim.grasping.objects import ObjectSpec

TIME_STEP = 1.0 / 240.0
SOLVER_ITERATIONS = 20  # half the cost of the default 50; guide success unchanged (docs)
CONTROL_PERIOD = 0.1  # s per env step (10 Hz control)
SUBSTEPS = round(CONTROL_PERIOD / TIME_STEP)  # physics steps per env step
SETTLE_STEPS = round(0.25 / TIME_STEP)  # for freshly placed objects to come to rest
CLOSE_STEPS = round(0.2 / TIME_STEP)  # for the fingers to close
LIFT_STEPS = round(0.4 / TIME_STEP)  # for the terminal lift
LIFT_TO = 0.3  # the terminal lift raises the gripper to this height above the floor (m)

TRAY_XY = np.array([0.55, 0.0])
OBJECT_SPAWN_HALF = 0.1  # objects' centres within TRAY_XY +- this (m)
MIN_OBJECT_GAP = 0.065  # between spawned object centres (m)
WORKSPACE_HALF = 0.16  # gripper x, y within TRAY_XY +- this (m)
MIN_HEIGHT, MAX_HEIGHT = 0.005, 0.3  # gripper (grasp point) height above the floor (m)
START_HEIGHT = 0.25
START_XY_HALF = 0.05
YAW_LIMIT = np.pi / 2  # gripper yaw range [-pi/2, pi/2]: the gripper is symmetric under a half turn

ARM_JOINTS = list(range(7))
FINGER_JOINTS = [9, 10]
EE_LINK = 11  # panda_grasptarget: between the fingertips
FINGER_OPEN = 0.04  # per finger (m); the opening is twice this
ARM_FORCES = [87.0] * 4 + [12.0] * 3
FINGER_FORCE = 40.0
_LOWER = [-2.9671, -1.8326, -2.9671, -3.1416, -2.9671, -0.0873, -2.9671, 0.0, 0.0]
_UPPER = [2.9671, 1.8326, 2.9671, 0.0, 2.9671, 3.8223, 2.9671, FINGER_OPEN, FINGER_OPEN]
_RANGES = [u - lo for u, lo in zip(_UPPER, _LOWER)]
_REST = [0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.785, FINGER_OPEN, FINGER_OPEN]


def lowpoly_panda_urdf() -> str:
    """Path of a Panda URDF whose visuals are its (low-poly) collision meshes, made once."""
    src_dir = os.path.join(pybullet_data.getDataPath(), "franka_panda")
    mesh_dir = os.path.join(src_dir, "meshes", "collision") + os.sep
    with open(os.path.join(src_dir, "panda.urdf")) as f:
        text = f.read()
    text = text.replace("package://meshes/visual/", mesh_dir).replace("package://meshes/collision/", mesh_dir)
    out_dir = os.path.join(tempfile.gettempdir(), f"jsrl_sim-{os.getuid()}")
    path = os.path.join(out_dir, "panda_lowpoly.urdf")
    if not os.path.isfile(path) or open(path).read() != text:
        os.makedirs(out_dir, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)  # atomic: concurrent envs never read a half-written file
    return path


def gripper_orientation(yaw: float) -> tuple[float, ...]:
    """Quaternion of a gripper pointing down whose fingers close along world angle ``yaw``.

    With Euler angles (pi, 0, theta) the grasp link's y axis (the fingers' axis) points
    along world angle theta - pi/2.
    """
    return p.getQuaternionFromEuler([np.pi, 0.0, yaw + np.pi / 2])


GUI_CAMERA = dict(cameraDistance=0.7, cameraYaw=0.0, cameraPitch=-50.0,
                  cameraTargetPosition=[*TRAY_XY, 0.05])  # the window: from the side, the arm in view


class DirectClient(BulletClient):
    """A private client, headless unless ``gui`` (pybullet's own window; one per process).
    ``BulletClient`` always passes an ``options`` string, and pybullet then prints ``argv[0]=``
    on stdout at every connect; connecting without options prints nothing."""

    def __init__(self, gui: bool = False) -> None:  # noqa: super().__init__ would connect with options
        self._shapes: dict = {}
        self._pid = os.getpid()
        self._client = p.connect(p.GUI if gui else p.DIRECT)
        if gui:
            self.configureDebugVisualizer(p.COV_ENABLE_GUI, 0)  # the scene only, no debug side panels
            self.resetDebugVisualizerCamera(**GUI_CAMERA)


class TrayScene:
    """Robot, tray and objects of one env; all physics goes through ``self.client`` (``gui``: in a window)."""

    def __init__(self, gui: bool = False) -> None:
        self.client = DirectClient(gui)
        c = self.client
        c.setAdditionalSearchPath(pybullet_data.getDataPath())
        c.setGravity(0.0, 0.0, -9.81)
        c.setPhysicsEngineParameter(fixedTimeStep=TIME_STEP, numSolverIterations=SOLVER_ITERATIONS,
                                    deterministicOverlappingPairs=1)
        self.plane = c.loadURDF("plane.urdf")
        self.tray = c.loadURDF("tray/traybox.urdf", [*TRAY_XY, 0.0], useFixedBase=True)
        self.robot = c.loadURDF(lowpoly_panda_urdf(), useFixedBase=True,
                                flags=p.URDF_ENABLE_CACHED_GRAPHICS_SHAPES)
        for link in range(-1, 8):
            c.changeVisualShape(self.robot, link, rgbaColor=[0.9, 0.9, 0.9, 1.0])
        for link in (8, *FINGER_JOINTS):
            c.changeVisualShape(self.robot, link, rgbaColor=[0.25, 0.25, 0.25, 1.0])
        for link in FINGER_JOINTS:
            c.changeDynamics(self.robot, link, lateralFriction=1.5, spinningFriction=0.003)
        self.floor_z = float(c.rayTest([*TRAY_XY, 1.0], [*TRAY_XY, -1.0])[0][3][2])
        self.objects: list[int] = []
        self.local_points = np.zeros((0, 1, 3))

    def close(self) -> None:
        """Disconnect the private client; safe to call again."""
        if self.client.isConnected():
            self.client.disconnect()

    # --- robot -----------------------------------------------------------------------

    def reset_robot(self, xy: np.ndarray, height: float, yaw: float) -> None:
        """Teleport the arm (fingers open) to a grasp point at ``xy``, ``height``, ``yaw``."""
        c, target = self.client, np.array([xy[0], xy[1], self.floor_z + height])
        for joint, q in enumerate(_REST[:7]):
            c.resetJointState(self.robot, joint, q)
        for joint in FINGER_JOINTS:
            c.resetJointState(self.robot, joint, FINGER_OPEN)
        for _ in range(4):  # IK from the teleported pose converges in a few rounds
            q = self._ik(target, yaw)
            for joint in ARM_JOINTS:
                c.resetJointState(self.robot, joint, q[joint])
        self._command(q[:7], FINGER_OPEN)

    def move(self, target: np.ndarray, yaw: float) -> None:
        """One env step towards grasp point ``target`` (world) and gripper ``yaw``; fingers open."""
        self._command(self._ik(target, yaw)[:7], FINGER_OPEN)
        self._simulate(SUBSTEPS)

    def close_and_lift(self) -> None:
        """The terminal grasp: close the fingers where they are, then lift straight up."""
        position, yaw = self.ee_pose()
        c = self.client
        c.setJointMotorControlArray(self.robot, FINGER_JOINTS, p.POSITION_CONTROL,
                                    targetPositions=[0.0, 0.0], forces=[FINGER_FORCE] * 2)
        self._simulate(CLOSE_STEPS)
        waypoints = 4  # lift in stages so the arm does not jerk the object out of the fingers
        for k in range(1, waypoints + 1):
            z = position[2] + (self.floor_z + LIFT_TO - position[2]) * k / waypoints
            self._command(self._ik(np.array([position[0], position[1], z]), yaw)[:7], 0.0)
            self._simulate(LIFT_STEPS // waypoints)

    def ee_pose(self) -> tuple[np.ndarray, float]:
        """Grasp point (world, m) and the fingers' closing direction (world yaw, rad)."""
        position, quat = self.client.getLinkState(self.robot, EE_LINK, computeForwardKinematics=1)[4:6]
        x, y, z, w = quat
        # The link's y axis (the closing direction) in world x, y. Not wrapped: commands stay
        # within [-pi/2, pi/2], so near a limit the reading goes slightly past it, not round.
        yaw = np.arctan2(1 - 2 * (x * x + z * z), 2 * (x * y - z * w))
        return np.asarray(position), float(yaw)

    def gripper_opening(self) -> float:
        """Distance between the fingers (m), 0.08 when open."""
        states = self.client.getJointStates(self.robot, FINGER_JOINTS)
        return float(states[0][0] + states[1][0])

    def _ik(self, target: np.ndarray, yaw: float) -> Sequence[float]:
        return self.client.calculateInverseKinematics(
            self.robot, EE_LINK, target.tolist(), gripper_orientation(yaw),
            lowerLimits=_LOWER, upperLimits=_UPPER, jointRanges=_RANGES, restPoses=_REST,
            maxNumIterations=20)

    def _command(self, arm_q: Sequence[float], finger: float) -> None:
        c = self.client
        c.setJointMotorControlArray(self.robot, ARM_JOINTS, p.POSITION_CONTROL,
                                    targetPositions=arm_q, forces=ARM_FORCES)
        c.setJointMotorControlArray(self.robot, FINGER_JOINTS, p.POSITION_CONTROL,
                                    targetPositions=[finger, finger], forces=[FINGER_FORCE] * 2)

    def _simulate(self, steps: int) -> None:
        for _ in range(steps):
            self.client.stepSimulation()

    # --- objects ---------------------------------------------------------------------

    def load_objects(self, specs: Sequence[ObjectSpec], rng: np.random.Generator) -> None:
        """Replace the tray's objects by ``specs`` at random non-overlapping poses on the floor.

        Call ``settle`` once the robot is in place, to let them come to rest.
        """
        c = self.client
        for body in self.objects:
            c.removeBody(body)
        self.objects = []
        points = []
        for xy in self._spawn_points(len(specs), rng):
            spec = specs[len(self.objects)]
            body = c.loadURDF(spec.urdf, [xy[0], xy[1], 1.0], globalScaling=spec.scale)
            points.append(self._local_points(body))
            quat = _random_quaternion(rng)
            c.resetBasePositionAndOrientation(body, [xy[0], xy[1], 1.0], quat)
            lowest = c.getAABB(body)[0][2] - 1.0
            c.resetBasePositionAndOrientation(body, [xy[0], xy[1], self.floor_z - lowest + 0.002], quat)
            self.objects.append(body)
        size = max(len(pts) for pts in points)  # pad by repeating a point: the hull is unchanged
        self.local_points = np.stack([np.concatenate([pts, pts[:1].repeat(size - len(pts), 0)]) for pts in points])

    def settle(self) -> None:
        self._simulate(SETTLE_STEPS)

    def object_poses(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions (N, 3) and xyzw quaternions (N, 4) of the objects, in slot order."""
        poses = [self.client.getBasePositionAndOrientation(body) for body in self.objects]
        return np.array([pose[0] for pose in poses]), np.array([pose[1] for pose in poses])

    def _spawn_points(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` centres in the spawn square, at least MIN_OBJECT_GAP apart where possible."""
        chosen: list[np.ndarray] = []
        for _ in range(n):
            for _ in range(100):
                xy = TRAY_XY + rng.uniform(-OBJECT_SPAWN_HALF, OBJECT_SPAWN_HALF, size=2)
                if all(np.linalg.norm(xy - other) >= MIN_OBJECT_GAP for other in chosen):
                    break
            chosen.append(xy)  # after 100 misses the last draw stands; contact separates them
        return np.array(chosen)

    def _local_points(self, body: int) -> np.ndarray:
        """Collision-mesh vertices in the body's frame; box corners for primitive shapes."""
        c = self.client
        if c.getCollisionShapeData(body, -1)[0][2] == p.GEOM_MESH:
            return np.asarray(c.getMeshData(body)[1], dtype=float)
        # a primitive, just loaded at identity orientation: its AABB is its box
        origin = np.asarray(c.getBasePositionAndOrientation(body)[0])
        lo, hi = (np.asarray(v) - origin for v in c.getAABB(body))
        return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def _random_quaternion(rng: np.random.Generator) -> np.ndarray:
    """Uniform random rotation (xyzw)."""
    q = rng.normal(size=4)
    return q / np.linalg.norm(q)
