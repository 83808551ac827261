CREATE DATABASE IF NOT EXISTS `sources`;
USE `sources`;
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
CREATE VIEW `CustomerAggregate`
AS
SELECT `customerid`, COUNT(*) AS `num_updates`
FROM `Customer`
GROUP BY `customerid`;
USE CATALOG `default_catalog`;
CREATE DATABASE IF NOT EXISTS `default_database`;
USE `default_database`;
CREATE DATABASE IF NOT EXISTS `mysources`;
USE `mysources`;
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
CREATE VIEW `CustomerAggregate`
AS
SELECT `customerid`, COUNT(*) AS `num_updates`
FROM `Customer`
GROUP BY `customerid`;
USE CATALOG `default_catalog`;
USE `default_database`;
CREATE VIEW `CustomerAggregate1`
AS
SELECT `customerid`, `num_updates` * 1 AS `updates`
FROM `sources`.`CustomerAggregate`;
CREATE VIEW `CustomerAggregate2`
AS
SELECT `customerid`, `num_updates` * 2 AS `updates`
FROM `mysources`.`CustomerAggregate`;
CREATE TABLE `CustomerAggregate1_1` (
  `customerid` BIGINT NOT NULL,
  `updates` BIGINT NOT NULL,
  PRIMARY KEY (`customerid`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'CustomerAggregate1_1',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `CustomerAggregate2_2` (
  `customerid` BIGINT NOT NULL,
  `updates` BIGINT NOT NULL,
  PRIMARY KEY (`customerid`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'CustomerAggregate2_2',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
EXECUTE STATEMENT SET BEGIN
INSERT INTO `default_catalog`.`default_database`.`CustomerAggregate1_1`
SELECT *
FROM `default_catalog`.`default_database`.`CustomerAggregate1`
;
INSERT INTO `default_catalog`.`default_database`.`CustomerAggregate2_2`
SELECT *
FROM `default_catalog`.`default_database`.`CustomerAggregate2`
;
END
