"""The resumable, multi-process sweep runner and config checks shared by the grasp and AntMaze benches."""
