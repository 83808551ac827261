CREATE TABLE `CustomerInternal` (
  `customer_id` BIGINT NOT NULL,
  `full_name` STRING,
  `timestamp` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
  WATERMARK FOR `timestamp` AS `timestamp` - INTERVAL '0.0' SECOND
)
WITH (
  'connector' = 'kafka-safe',
  'format' = 'flexible-json',
  'properties.auto.offset.reset' = 'earliest',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP_SERVERS}',
  'properties.compression.type' = 'zstd',
  'properties.group.id' = '${KAFKA_GROUP_ID}',
  'topic' = 'kafka-mutation-CustomerInternal'
);
CREATE TABLE `customer_1` (
  `customer_id` BIGINT NOT NULL,
  `full_name` VARCHAR(2147483647) CHARACTER SET `UTF-16LE`,
  `timestamp` TIMESTAMP(3) WITH LOCAL TIME ZONE
)
WITH (
  'connector' = 'print',
  'print-identifier' = 'customer'
);
CREATE TABLE `CustomerInternal_2` (
  `customer_id` BIGINT NOT NULL,
  `full_name` VARCHAR(2147483647) CHARACTER SET `UTF-16LE`,
  `timestamp` TIMESTAMP(3) WITH LOCAL TIME ZONE,
  `__pk_hash` CHAR(32) CHARACTER SET `UTF-16LE`,
  PRIMARY KEY (`__pk_hash`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'CustomerInternal_2',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
EXECUTE STATEMENT SET BEGIN
INSERT INTO `default_catalog`.`default_database`.`customer_1`
SELECT *
FROM `default_catalog`.`default_database`.`CustomerInternal`
;
INSERT INTO `default_catalog`.`default_database`.`CustomerInternal_2`
SELECT `customer_id`, `full_name`, `timestamp`, `hash_columns`(`customer_id`, `full_name`, `timestamp`) AS `__pk_hash`
FROM `default_catalog`.`default_database`.`CustomerInternal`
;
END
