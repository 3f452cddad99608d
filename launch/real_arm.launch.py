"""JSRL on a robot arm: ros2 launch jsrl_ros real_arm.launch.py [hardware:=fake|real] [guide:=teleop|bc]
[learner:=qtopt|iql] [mode:=curriculum|random] [command_mode:=twist|joint_trajectory] [autostart:=true]
[headless:=true] [view:=true] [bc_path:=FILE] [out_dir:=DIR] [params:=FILE]

The nodes and their parameters are jsrl_ros/bringup/graph.py's ``real_arm`` graph with config/ros/real_arm.yaml —
the same graph ``jsrl_bringup --graph real_arm`` starts. With hardware:=real, start the arm's drivers
(camera, joint_states, MoveIt Servo or the joint_trajectory_controller, gripper) yourself, go through
docs/sim_to_real.md, then activate the bridge: ros2 lifecycle set /real_arm_bridge activate.
"""
from jsrl_ros.bringup.launch_graph import launch_description


def generate_launch_description():
    return launch_description("real_arm")
