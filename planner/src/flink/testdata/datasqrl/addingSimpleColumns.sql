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
CREATE VIEW `FilteredOrders`
AS
SELECT *
FROM `Orders`
WHERE `id` > 0;
ALTER VIEW `FilteredOrders`
AS
SELECT `id`, `customerid`, `time`, `entries`, `customerid` * 2 AS `col2`
FROM (SELECT *
  FROM `Orders`
  WHERE `id` > 0);
ALTER VIEW `FilteredOrders`
AS
SELECT `id`, `time`, `entries`, `col2`, 0 AS `customerid`
FROM (SELECT `id`, `customerid`, `time`, `entries`, `customerid` * 2 AS `col2`
  FROM (SELECT *
    FROM `Orders`
    WHERE `id` > 0));
ALTER VIEW `FilteredOrders`
AS
SELECT `id`, `time`, `entries`, `col2`, `customerid`, TIMESTAMPDIFF(SECOND, `TO_TIMESTAMP_LTZ`(0, 3), `time`) AS `timestamp`
FROM (SELECT `id`, `time`, `entries`, `col2`, 0 AS `customerid`
  FROM (SELECT `id`, `customerid`, `time`, `entries`, `customerid` * 2 AS `col2`
    FROM (SELECT *
      FROM `Orders`
      WHERE `id` > 0)));
ALTER VIEW `FilteredOrders`
AS
SELECT `id`, `time`, `entries`, `customerid`, `timestamp`, `col2` * 4 AS `col2`
FROM (SELECT `id`, `time`, `entries`, `col2`, `customerid`, TIMESTAMPDIFF(SECOND, `TO_TIMESTAMP_LTZ`(0, 3), `time`) AS `timestamp`
  FROM (SELECT `id`, `time`, `entries`, `col2`, 0 AS `customerid`
    FROM (SELECT `id`, `customerid`, `time`, `entries`, `customerid` * 2 AS `col2`
      FROM (SELECT *
        FROM `Orders`
        WHERE `id` > 0))));
CREATE VIEW `OrderIds`
AS
SELECT `id` AS `id1`, `id` AS `id2`, `time`
FROM `Orders`;
CREATE TABLE `FilteredOrders_1` (
  `id` BIGINT NOT NULL,
  `time` TIMESTAMP(3) WITH LOCAL TIME ZONE NOT NULL,
  `entries` RAW('com.datasqrl.flinkrunner.stdlib.json.FlinkJsonType', 'AERjb20uZGF0YXNxcmwuZmxpbmtydW5uZXIuc3RkbGliLmpzb24uRmxpbmtKc29uVHlwZVNlcmlhbGl6ZXJTbmFwc2hvdAAAAAM='),
  `customerid` INTEGER NOT NULL,
  `timestamp` INTEGER,
  `col2` BIGINT NOT NULL,
  PRIMARY KEY (`id`, `time`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'FilteredOrders_1',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `OrderIds_2` (
  `id1` BIGINT NOT NULL,
  `id2` BIGINT NOT NULL,
  `time` TIMESTAMP(3) WITH LOCAL TIME ZONE NOT NULL,
  PRIMARY KEY (`id1`, `time`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'OrderIds_2',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `Orders_3` (
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
  'table-name' = 'Orders_3',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
EXECUTE STATEMENT SET BEGIN
INSERT INTO `default_catalog`.`default_database`.`FilteredOrders_1`
SELECT `id`, `time`, `to_jsonb`(`entries`) AS `entries`, `customerid`, `timestamp`, `col2`
FROM `default_catalog`.`default_database`.`FilteredOrders`
;
INSERT INTO `default_catalog`.`default_database`.`OrderIds_2`
SELECT *
FROM `default_catalog`.`default_database`.`OrderIds`
;
INSERT INTO `default_catalog`.`default_database`.`Orders_3`
SELECT `id`, `customerid`, `time`, `to_jsonb`(`entries`) AS `entries`
FROM `default_catalog`.`default_database`.`Orders`
;
END
