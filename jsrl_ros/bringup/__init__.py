"""Starting a node graph: the graphs' definitions, the embedded bringup (``jsrl_bringup``) and the launch files' helper."""
