"""launch_ros glue for the graphs of jsrl_ros/bringup/graph.py (imported only by launch/*.launch.py).

Needs a ROS 2 distro's ``launch`` and ``launch_ros`` (not on PyPI; without them use
``jsrl_bringup``, which starts the same graphs). Each graph option becomes a launch
argument; the nodes are built once the arguments are known (``OpaqueFunction``), from the
same ``graph.py`` the bringup uses, with the scenario YAML plus the graph's per-node
overrides as parameters.
"""
from __future__ import annotations

import os
import tempfile
from typing import Any

import yaml

from ament_index_python.packages import get_package_share_directory
from launch_ros.actions import Node

from jsrl_ros.bringup.fleet_graphs import check_key_files, namespaced_sections
from jsrl_ros.bringup.graph import GRAPHS
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration

PACKAGE = "jsrl_ros"


def launch_description(graph_name: str) -> LaunchDescription:
    graph_def = GRAPHS[graph_name]
    arguments = [DeclareLaunchArgument(o.name, default_value=o.default, description=o.help,
                                       choices=list(o.choices) if o.choices else None) for o in graph_def.options]
    arguments.append(DeclareLaunchArgument("params", default_value="",
                                           description="scenario YAML (default: the installed config/ file)"))

    def nodes(context: LaunchContext, *args: Any, **kwargs: Any) -> list[Node]:
        graph = graph_def.build(**{o.name: LaunchConfiguration(o.name).perform(context) for o in graph_def.options})
        check_key_files(graph)
        params = LaunchConfiguration("params").perform(context) or os.path.join(
            get_package_share_directory(PACKAGE), "config", "ros", graph.params_file)
        if graph.namespace:  # the scenario's node sections, re-keyed to reach the namespaced nodes
            with open(params) as f:
                scenario = namespaced_sections(yaml.safe_load(f), graph)
            with tempfile.NamedTemporaryFile("w", prefix=f"{graph.namespace}_", suffix=".yaml", delete=False) as f:
                yaml.safe_dump(scenario, f, sort_keys=False)
            params = f.name
        return [Node(package=PACKAGE, executable=spec.executable, name=spec.name, output="screen",
                     namespace=graph.namespace or None, remappings=list(spec.remaps),
                     parameters=[params, spec.params], prefix="xterm -e" if spec.terminal else None)
                for spec in graph.nodes]

    return LaunchDescription([*arguments, OpaqueFunction(function=nodes)])
