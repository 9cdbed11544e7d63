"""Graph networks: deep GNNs with their initialization, NBFNet, FloydNet."""
