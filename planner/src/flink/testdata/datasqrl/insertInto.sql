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
CREATE TABLE IF NOT EXISTS `customer_id_count` (
  `customerid` BIGINT,
  `numEntries` BIGINT,
  PRIMARY KEY (`customerid`) NOT ENFORCED
)
WITH (
  'connector' = 'blackhole'
);
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
EXECUTE STATEMENT SET BEGIN
INSERT INTO `default_catalog`.`default_database`.`Customer_1`
SELECT *
FROM `default_catalog`.`default_database`.`Customer`
;
INSERT INTO `customer_id_count`
SELECT `Customer`.`customerid`, COUNT(*) AS `numEntries`
FROM `default_catalog`.`default_database`.`Customer` AS `Customer`
GROUP BY `Customer`.`customerid`
;
END
