"""The combination lock: episodes to solve vs horizon, JSRL vs epsilon-greedy (Theorem 4.1)."""
