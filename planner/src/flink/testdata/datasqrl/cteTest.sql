CREATE TABLE `Orders` (
  `id` BIGINT NOT NULL,
  `customerid` BIGINT NOT NULL,
  `time` TIMESTAMP_LTZ(3) NOT NULL,
  `entries` ROW(`productid` BIGINT NOT NULL, `quantity` BIGINT NOT NULL, `unit_price` DOUBLE NOT NULL, `discount` DOUBLE) NOT NULL ARRAY NOT NULL,
  PRIMARY KEY (`id`, `time`) NOT ENFORCED,
  WATERMARK FOR `time` AS `time` - INTERVAL '0.001' SECOND
)
WITH (
  'connector' = 'filesystem',
  'format' = 'flexible-json',
  'path' = 'file:/mock',
  'source.monitor-interval' = '10 sec'
);
CREATE VIEW `SpecialOrderSummary`
AS
WITH `SpecialOrders` AS (SELECT *, `id` > 1000 AS `isSpecialOrder`
  FROM `Orders`
  WHERE `id` < 1000000) SELECT `customerid`, COUNT(*) AS `num_special_orders`
  FROM `SpecialOrders`
  GROUP BY `customerid`;
CREATE VIEW `SpecialOrderSummaryDatabase`
AS
WITH `SpecialOrders` AS (SELECT *, `id` > 1000 AS `isSpecialOrder`
  FROM `Orders`
  WHERE `id` < 1000000) SELECT `customerid`, COUNT(*) AS `num_special_orders`
  FROM `SpecialOrders`
  GROUP BY `customerid`;
CREATE TABLE `Orders_1` (
  `id` BIGINT NOT NULL,
  `customerid` BIGINT NOT NULL,
  `time` TIMESTAMP(3) WITH LOCAL TIME ZONE NOT NULL,
  `entries` RAW('com.datasqrl.flinkrunner.stdlib.json.FlinkJsonType', 'AERjb20uZGF0YXNxcmwuZmxpbmtydW5uZXIuc3RkbGliLmpzb24uRmxpbmtKc29uVHlwZVNlcmlhbGl6ZXJTbmFwc2hvdAAAAAM='),
  PRIMARY KEY (`id`, `time`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'Orders_1',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `SpecialOrderSummary_2` (
  `customerid` BIGINT NOT NULL,
  `num_special_orders` BIGINT NOT NULL,
  PRIMARY KEY (`customerid`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'SpecialOrderSummary_2',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
EXECUTE STATEMENT SET BEGIN
INSERT INTO `default_catalog`.`default_database`.`Orders_1`
SELECT `id`, `customerid`, `time`, `to_jsonb`(`entries`) AS `entries`
FROM `default_catalog`.`default_database`.`Orders`
;
INSERT INTO `default_catalog`.`default_database`.`SpecialOrderSummary_2`
SELECT *
FROM `default_catalog`.`default_database`.`SpecialOrderSummary`
;
END
