"""One actor of a fleet: ros2 launch jsrl_ros fleet_actor.launch.py actor_id:=N [guide:=scripted|bc]
[obs:=state|image] [curriculum:=fleet|per_actor] [headless:=false] [keys:=DIR] [out_dir:=DIR] [params:=FILE]

jsrl_ros/bringup/fleet_graphs.py's ``fleet_actor`` graph (namespace actor_<N>) with
config/ros/grasping_sim.yaml — the same graph ``jsrl_bringup --role actor --actor-id N`` starts.
The learner side: fleet_learner.launch.py. docs/fleet.md.
"""
from jsrl_ros.bringup.launch_graph import launch_description


def generate_launch_description():
    return launch_description("fleet_actor")
