"""JSRL on the grasping sim: ros2 launch jsrl_ros grasping_sim.launch.py [guide:=scripted|bc|teleop]
[learner:=qtopt|iql] [mode:=curriculum|random] [obs:=state|image] [headless:=true] [gui:=true] [view:=true]
[bc_path:=FILE] [out_dir:=DIR] [params:=FILE]

The nodes and their parameters are jsrl_ros/bringup/graph.py's ``grasping_sim`` graph with
config/ros/grasping_sim.yaml — the same graph ``jsrl_bringup --graph grasping_sim`` starts.
"""
from jsrl_ros.bringup.launch_graph import launch_description


def generate_launch_description():
    return launch_description("grasping_sim")
