"""The ROS layer's cost (`jsrl bench ros`): arbiter latency and lockstep throughput over real rclpy."""
