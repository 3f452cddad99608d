"""ROS-free core of jsrl_ros: guides, the JSRL curriculum, learners, buffers and datasets.

Never imports rclpy, jsrl_ros or jsrl_sim: everything here runs on a plain gymnasium env.
"""
