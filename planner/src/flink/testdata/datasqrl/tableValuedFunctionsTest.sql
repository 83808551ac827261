CREATE TABLE `Customer` (
  `customerid` BIGINT NOT NULL,
  `email` STRING NOT NULL,
  `name` STRING NOT NULL,
  `lastUpdated` BIGINT NOT NULL,
  `timestamp` AS COALESCE(`TO_TIMESTAMP_LTZ`(`lastUpdated`, 0), TIMESTAMP '1970-01-01 00:00:00.000'),
  PRIMARY KEY (`customerid`, `lastUpdated`) NOT ENFORCED,
  WATERMARK FOR `timestamp` AS `timestamp` - INTERVAL '0.001' SECOND
)
WITH (
  'connector' = 'filesystem',
  'format' = 'flexible-json',
  'path' = 'file:/mock',
  'source.monitor-interval' = '10 sec'
);
CREATE VIEW `CustomerTumble`
AS
SELECT `window_start`, `window_end`, COUNT(`customerid`) AS `total`
FROM TABLE(TUMBLE(TABLE `Customer`, DESCRIPTOR(`timestamp`), INTERVAL '10' MINUTE))
GROUP BY `window_start`, `window_end`;
CREATE VIEW `CustomerHop`
AS
SELECT `window_start`, `window_end`, `window_time`, COUNT(`customerid`) AS `total`
FROM TABLE(HOP(TABLE `Customer`, DESCRIPTOR(`timestamp`), INTERVAL '5' MINUTE, INTERVAL '10' MINUTE))
GROUP BY `window_start`, `window_end`, `window_time`;
CREATE VIEW `CustomerCumulate`
AS
SELECT `window_start`, `window_end`, COUNT(`customerid`) AS `total`
FROM TABLE(`CUMULATE`(TABLE `Customer`, DESCRIPTOR(`timestamp`), INTERVAL '5' MINUTE, INTERVAL '10' MINUTE))
GROUP BY `window_start`, `window_end`;
CREATE VIEW `CustomerSession`
AS
SELECT `customerid`, `window_start`, `window_end`, `window_time`, COUNT(`customerid`) AS `total`
FROM TABLE(SESSION(TABLE `Customer` PARTITION BY `customerid`, DESCRIPTOR(`timestamp`), INTERVAL '10' MINUTE))
GROUP BY `window_start`, `window_end`, `window_time`, `customerid`;
CREATE VIEW `StreamJoin`
AS
SELECT `h`.*, `s`.`customerid`, `s`.`window_start` AS `window_start0`, `s`.`window_end` AS `window_end0`, `s`.`total` AS `total0`
FROM `CustomerHop` AS `h`
 INNER JOIN `CustomerSession` AS `s` ON `s`.`window_time` = `h`.`window_time`;
CREATE TABLE `Customer_1` (
  `customerid` BIGINT NOT NULL,
  `email` VARCHAR(2147483647) CHARACTER SET `UTF-16LE` NOT NULL,
  `name` VARCHAR(2147483647) CHARACTER SET `UTF-16LE` NOT NULL,
  `lastUpdated` BIGINT NOT NULL,
  `timestamp` TIMESTAMP(3) WITH LOCAL TIME ZONE NOT NULL,
  PRIMARY KEY (`customerid`, `lastUpdated`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'Customer_1',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `CustomerCumulate_2` (
  `window_start` TIMESTAMP(3) NOT NULL,
  `window_end` TIMESTAMP(3) NOT NULL,
  `total` BIGINT NOT NULL,
  PRIMARY KEY (`window_start`, `window_end`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'CustomerCumulate_2',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `CustomerHop_3` (
  `window_start` TIMESTAMP(3) NOT NULL,
  `window_end` TIMESTAMP(3) NOT NULL,
  `window_time` TIMESTAMP(3) WITH LOCAL TIME ZONE NOT NULL,
  `total` BIGINT NOT NULL,
  PRIMARY KEY (`window_start`, `window_end`, `window_time`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'CustomerHop_3',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `CustomerSession_4` (
  `customerid` BIGINT NOT NULL,
  `window_start` TIMESTAMP(3) NOT NULL,
  `window_end` TIMESTAMP(3) NOT NULL,
  `window_time` TIMESTAMP(3) WITH LOCAL TIME ZONE NOT NULL,
  `total` BIGINT NOT NULL,
  PRIMARY KEY (`window_start`, `window_end`, `window_time`, `customerid`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'CustomerSession_4',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `CustomerTumble_5` (
  `window_start` TIMESTAMP(3) NOT NULL,
  `window_end` TIMESTAMP(3) NOT NULL,
  `total` BIGINT NOT NULL,
  PRIMARY KEY (`window_start`, `window_end`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'CustomerTumble_5',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `StreamJoin_6` (
  `window_start` TIMESTAMP(3) NOT NULL,
  `window_end` TIMESTAMP(3) NOT NULL,
  `window_time` TIMESTAMP(3) WITH LOCAL TIME ZONE NOT NULL,
  `total` BIGINT NOT NULL,
  `customerid` BIGINT NOT NULL,
  `window_start0` TIMESTAMP(3) NOT NULL,
  `window_end0` TIMESTAMP(3) NOT NULL,
  `total0` BIGINT NOT NULL,
  PRIMARY KEY (`window_start`, `window_end`, `window_time`, `window_start0`, `window_end0`, `customerid`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'StreamJoin_6',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
EXECUTE STATEMENT SET BEGIN
INSERT INTO `default_catalog`.`default_database`.`Customer_1`
SELECT *
FROM `default_catalog`.`default_database`.`Customer`
;
INSERT INTO `default_catalog`.`default_database`.`CustomerCumulate_2`
SELECT *
FROM `default_catalog`.`default_database`.`CustomerCumulate`
;
INSERT INTO `default_catalog`.`default_database`.`CustomerHop_3`
SELECT *
FROM `default_catalog`.`default_database`.`CustomerHop`
;
INSERT INTO `default_catalog`.`default_database`.`CustomerSession_4`
SELECT *
FROM `default_catalog`.`default_database`.`CustomerSession`
;
INSERT INTO `default_catalog`.`default_database`.`CustomerTumble_5`
SELECT *
FROM `default_catalog`.`default_database`.`CustomerTumble`
;
INSERT INTO `default_catalog`.`default_database`.`StreamJoin_6`
SELECT *
FROM `default_catalog`.`default_database`.`StreamJoin`
;
END
