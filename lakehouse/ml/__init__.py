"""Machine learning on the tables: labelled training sets from pinned table versions."""
