"""The learner side of a fleet: ros2 launch jsrl_ros fleet_learner.launch.py allowed_actors:=1,2
[learner:=qtopt|iql] [obs:=state|image] [curriculum:=fleet|per_actor] [mode:=curriculum|random]
[keys:=DIR] [out_dir:=DIR] [params:=FILE]

jsrl_ros/bringup/fleet_graphs.py's ``fleet_learner`` graph with config/ros/grasping_sim.yaml — the
same graph ``jsrl_bringup --role learner --allowed-actors 1,2`` starts. docs/fleet.md.
"""
from jsrl_ros.bringup.launch_graph import launch_description


def generate_launch_description():
    return launch_description("fleet_learner")
