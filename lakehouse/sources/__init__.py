"""Where the events come from: the seeded generator, its publisher to Kafka, the change-data-capture
contract (Debezium records and connector) and the backoffice writer that makes PostgreSQL changes."""
