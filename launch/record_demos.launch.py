"""Human teleop demos as rosbag2 episodes: ros2 launch jsrl_ros record_demos.launch.py [obs:=state|image]
[headless:=true] [gui:=true] [view:=true] [out_dir:=DIR] [params:=FILE]

The keyboard teleop opens in its own terminal (xterm); every episode the human drives is
recorded as one bag under OUT_DIR/episodes. The nodes and their parameters are
jsrl_ros/bringup/graph.py's ``record_demos`` graph with config/ros/record_demos.yaml — the same graph
``jsrl_bringup --graph record_demos`` starts.
"""
from jsrl_ros.bringup.launch_graph import launch_description


def generate_launch_description():
    return launch_description("record_demos")
