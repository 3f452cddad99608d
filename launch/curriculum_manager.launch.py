"""Starts the curriculum manager alone, with config/ros/curriculum_manager.yaml (or params:=FILE)."""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    default_params = os.path.join(get_package_share_directory("jsrl_ros"), "config", "ros", "curriculum_manager.yaml")
    return LaunchDescription([
        DeclareLaunchArgument("params", default_value=default_params, description="ROS parameter YAML"),
        Node(package="jsrl_ros", executable="curriculum_manager", name="curriculum_manager",
             parameters=[LaunchConfiguration("params")], output="screen"),
    ])
