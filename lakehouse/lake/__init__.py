"""The Delta tables themselves: their specs, where they are stored, which version readers see (the
catalog pointer), maintenance while jobs write, and the order read model folded from silver."""
