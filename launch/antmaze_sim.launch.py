"""JSRL-IQL on AntMaze: ros2 launch jsrl_ros antmaze_sim.launch.py [mode:=curriculum|random]
[headless:=true] [gui:=true] [view:=true] [out_dir:=DIR] [params:=FILE]

The nodes and their parameters are jsrl_ros/bringup/graph.py's ``antmaze_sim`` graph with
config/ros/antmaze_sim.yaml — the same graph ``jsrl_bringup --graph antmaze_sim`` starts.
"""
from jsrl_ros.bringup.launch_graph import launch_description


def generate_launch_description():
    return launch_description("antmaze_sim")
