CREATE TABLE `NestedCustomers` (
  `customer_id` BIGINT,
  `customer` ROW(`name` VARCHAR, `profile` ROW(`email` VARCHAR, `address` ROW(`street` VARCHAR, `city` VARCHAR, `geo` ROW(`lat` DOUBLE, `lon` DOUBLE, `prec` ROW(`source` VARCHAR, `meters` INTEGER)))))
)
WITH (
  'connector' = 'filesystem',
  'format' = 'flexible-json',
  'path' = 'file:/mock',
  'source.monitor-interval' = '10 sec'
);
CREATE TABLE `NestedCustomers_1` (
  `customer_id` BIGINT,
  `customer` RAW('com.datasqrl.flinkrunner.stdlib.json.FlinkJsonType', 'AERjb20uZGF0YXNxcmwuZmxpbmtydW5uZXIuc3RkbGliLmpzb24uRmxpbmtKc29uVHlwZVNlcmlhbGl6ZXJTbmFwc2hvdAAAAAM='),
  `__pk_hash` CHAR(32) CHARACTER SET `UTF-16LE`,
  PRIMARY KEY (`__pk_hash`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'NestedCustomers_1',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
EXECUTE STATEMENT SET BEGIN
INSERT INTO `default_catalog`.`default_database`.`NestedCustomers_1`
SELECT `customer_id`, `to_jsonb`(`customer`) AS `customer`, `hash_columns`(`customer_id`, `customer`) AS `__pk_hash`
FROM `default_catalog`.`default_database`.`NestedCustomers`
;
END
