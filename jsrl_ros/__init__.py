"""ROS 2 adapters: thin rclpy nodes over jsrl_learning and jsrl_sim."""
