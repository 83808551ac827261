CREATE TABLE `CustomerStream` (
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
CREATE VIEW `Customer`
AS
SELECT `customerid`, `email`, `name`, `lastUpdated`, `timestamp`
FROM (SELECT `customerid`, `email`, `name`, `lastUpdated`, `timestamp`, ROW_NUMBER() OVER (PARTITION BY `customerid` ORDER BY `timestamp` DESC NULLS LAST) AS `__sqrlinternal_rownum`
  FROM `default_catalog`.`default_database`.`CustomerStream`) AS `t`
WHERE `__sqrlinternal_rownum` = 1;
CREATE VIEW `toJsonTable`
AS
SELECT `to_jsonb`('{"a": 1}') AS `obj`
FROM `Customer`;
CREATE VIEW `jsonArrayTable`
AS
SELECT `jsonb_array`(`customerid`) AS `obj`
FROM `Customer`;
CREATE VIEW `jsonObjectAggTable`
AS
SELECT `jsonb_object_agg`('key', `name`) AS `agg`
FROM `Customer`
GROUP BY `name`;
CREATE VIEW `jsonToStringTable`
AS
SELECT `jsonb_to_string`(`to_jsonb`('{"a": 1}')) AS `obj`
FROM `Customer`;
CREATE VIEW `jsonExtractTable`
AS
SELECT `jsonb_extract`(`to_jsonb`('{"a": "hello"}'), CAST('$.a' AS VARCHAR), CAST('default' AS VARCHAR)) AS `obj`
FROM `Customer`;
CREATE VIEW `jsonQueryTable`
AS
SELECT `jsonb_query`(`to_jsonb`('{"a": {"b": 1}}'), '$.a') AS `obj`
FROM `Customer`;
CREATE VIEW `jsonExistsTable`
AS
SELECT `jsonb_exists`(`to_jsonb`('{"a": true}'), '$.a') AS `obj`
FROM `Customer`;
CREATE VIEW `jsonConcatTable`
AS
SELECT `jsonb_concat`(`to_jsonb`('{"a": true}'), `to_jsonb`('{"a": false}')) AS `obj`
FROM `Customer`;
CREATE VIEW `jsonArrayAggTable`
AS
SELECT `jsonb_array_agg`(`name`) AS `agg`
FROM `Customer`
GROUP BY `name`;
CREATE VIEW `ObjComplex`
AS
SELECT `jsonb_object`(`concat`('application#', CAST(`name` AS VARCHAR)), `customerid`) AS `obj`
FROM `Customer`;
CREATE TABLE `Customer_1` (
  `customerid` BIGINT NOT NULL,
  `email` VARCHAR(2147483647) CHARACTER SET `UTF-16LE` NOT NULL,
  `name` VARCHAR(2147483647) CHARACTER SET `UTF-16LE` NOT NULL,
  `lastUpdated` BIGINT NOT NULL,
  `timestamp` TIMESTAMP(3) WITH LOCAL TIME ZONE NOT NULL,
  PRIMARY KEY (`customerid`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'TIMESTAMP',
  'sink.on-conflict.timestamp-column' = 'timestamp',
  'table-name' = 'Customer_1',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `CustomerStream_2` (
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
  'table-name' = 'CustomerStream_2',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
EXECUTE STATEMENT SET BEGIN
INSERT INTO `default_catalog`.`default_database`.`Customer_1`
SELECT *
FROM `default_catalog`.`default_database`.`CustomerStream`
;
INSERT INTO `default_catalog`.`default_database`.`CustomerStream_2`
SELECT *
FROM `default_catalog`.`default_database`.`CustomerStream`
;
END
