"""A fleet over DDS: actors on many hosts feed one learner (docs/fleet.md); the protocol here needs no rclpy."""
