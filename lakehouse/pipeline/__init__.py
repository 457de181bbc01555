"""Running the streaming job: the Flink table environment, the embedded mini-cluster runner, submission
to a session cluster, the code and release archives shipped with it, and the savepoint state checks."""
