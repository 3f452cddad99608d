"""A fuzz harness for the node graphs: hostile input on every input topic, three properties checked.

Why a package of its own: the CI test (test/test_fuzz_graph.py) and the longer benchmark
(``jsrl bench fuzz``) run the same campaign, so what CI checks and what the docs report can
never drift. The parts, one job each:

* :mod:`.stamps`: header stamps chosen *relative to the live loop* (the current step, the
  next episode, episode e + 50, ...), resolved the moment a message goes out;
* :mod:`.strategies`: hypothesis strategies that build malformed messages per type;
* :mod:`.catalogue`: every input topic of every node of a graph, with its type, QoS and strategy;
* :mod:`.files`: the bad files that path-carrying messages point at (junk checkpoints, bad bags);
* :mod:`.probe`: the harness's own rclpy context and node in the graph's domain;
* :mod:`.attack`: publish a generated sequence from the probe node, then a flood;
* :mod:`.watch`: what the harness sees of the graph (diagnostics, steps, arm commands);
* :mod:`.arm_check`: the safety box and speed limits every arm command must respect;
* :mod:`.graph_run`: a graph started by the embedded bringup, in its own ROS domain;
* :mod:`.campaign`: one topic attacked and the properties checked, on a graph kept alive;
* :mod:`.isolate`: bisect a failed attack down to the messages that still fail it;
* :mod:`.bench`: ``jsrl bench fuzz``, the campaign run longer, with its numbers in a JSON file.

It imports ``hypothesis`` (requirements.txt): a test and benchmark dependency, never needed
by the nodes.
"""
