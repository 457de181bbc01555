-- The backoffice schema: customers and products (captured by Debezium) and the orders the
-- backoffice writes (not captured: orders reach the lakehouse as order-events).
-- Run once, in one transaction, by infra/postgres/postgres.sh migrate (psql variables app_user, cdc_user).
create schema if not exists backoffice authorization :"app_user";
grant usage on schema backoffice to :"cdc_user";

-- updated_at is when the version became valid, UTC, in milliseconds: Debezium sends it as epoch
-- milliseconds with time.precision.mode=connect, the unit the job's version time uses.
create table backoffice.customers (
    customer_id text primary key,
    name text not null,
    region text not null,
    segment text not null,
    updated_at timestamp(3) not null
);

create table backoffice.products (
    product_id text primary key,
    name text not null,
    category text not null,
    price numeric(12, 2) not null,
    updated_at timestamp(3) not null
);

create table backoffice.orders (
    order_id text primary key,
    customer_id text not null references backoffice.customers,
    product_id text not null references backoffice.products,
    quantity integer not null check (quantity > 0),
    amount numeric(12, 2) not null check (amount > 0),
    currency text not null,
    placed_at timestamp(3) not null
);

alter table backoffice.customers owner to :"app_user";
alter table backoffice.products owner to :"app_user";
alter table backoffice.orders owner to :"app_user";
-- FULL: a delete's before image holds the whole row, not only the key (the job needs only the key;
-- FULL also gives every update a before, for consumers that want it).
alter table backoffice.customers replica identity full;
alter table backoffice.products replica identity full;
grant select on backoffice.customers, backoffice.products to :"cdc_user";

-- The publication Debezium's pgoutput slot reads (publication.autocreate.mode=disabled).
create publication lakehouse_cdc for table backoffice.customers, backoffice.products;
