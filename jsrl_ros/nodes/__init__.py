"""Executables run by ``ros2 run jsrl_ros <name>``; each module has a ``main()``."""
