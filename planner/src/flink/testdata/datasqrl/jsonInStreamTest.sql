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
SELECT `customerid`, `to_jsonb`('{"a": 1}') AS `obj`
FROM `Customer`;
CREATE VIEW `jsonArrayTable`
AS
SELECT `customerid`, `jsonb_array`(`customerid`) AS `obj`
FROM `Customer`;
CREATE VIEW `jsonObjectAggTable`
AS
SELECT `name`, `jsonb_object_agg`('key', `name`) AS `agg`
FROM `Customer`
GROUP BY `name`;
CREATE VIEW `jsonToStringTable`
AS
SELECT `customerid`, `jsonb_to_string`(`to_jsonb`('{"a": 1}')) AS `obj`
FROM `Customer`;
CREATE VIEW `jsonExtractTable`
AS
SELECT `customerid`, `jsonb_extract`(`to_jsonb`('{"a": "hello"}'), CAST('$.a' AS VARCHAR), CAST('default' AS VARCHAR)) AS `obj`
FROM `Customer`;
CREATE VIEW `jsonQueryTable`
AS
SELECT `customerid`, `jsonb_query`(`to_jsonb`('{"a": {"b": 1}}'), '$.a') AS `obj`
FROM `Customer`;
CREATE VIEW `jsonExistsTable`
AS
SELECT `customerid`, `jsonb_exists`(`to_jsonb`('{"a": true}'), '$.a') AS `obj`
FROM `Customer`;
CREATE VIEW `jsonConcatTable`
AS
SELECT `customerid`, `jsonb_concat`(`to_jsonb`('{"a": true}'), `to_jsonb`('{"a": false}')) AS `obj`
FROM `Customer`;
CREATE VIEW `jsonArrayAggTable`
AS
SELECT `name`, `jsonb_array_agg`(`name`) AS `agg`
FROM `Customer`
GROUP BY `name`;
CREATE VIEW `ObjComplex`
AS
SELECT `customerid`, `jsonb_object`(`concat`('application#', CAST(`name` AS VARCHAR)), `customerid`) AS `obj`
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
CREATE TABLE `ObjComplex_3` (
  `customerid` BIGINT NOT NULL,
  `obj` RAW('com.datasqrl.flinkrunner.stdlib.json.FlinkJsonType', 'AERjb20uZGF0YXNxcmwuZmxpbmtydW5uZXIuc3RkbGliLmpzb24uRmxpbmtKc29uVHlwZVNlcmlhbGl6ZXJTbmFwc2hvdAAAAAM='),
  PRIMARY KEY (`customerid`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'ObjComplex_3',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `jsonArrayAggTable_4` (
  `name` VARCHAR(2147483647) CHARACTER SET `UTF-16LE` NOT NULL,
  `agg` RAW('com.datasqrl.flinkrunner.stdlib.json.FlinkJsonType', 'AERjb20uZGF0YXNxcmwuZmxpbmtydW5uZXIuc3RkbGliLmpzb24uRmxpbmtKc29uVHlwZVNlcmlhbGl6ZXJTbmFwc2hvdAAAAAM='),
  PRIMARY KEY (`name`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'jsonArrayAggTable_4',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `jsonArrayTable_5` (
  `customerid` BIGINT NOT NULL,
  `obj` RAW('com.datasqrl.flinkrunner.stdlib.json.FlinkJsonType', 'AERjb20uZGF0YXNxcmwuZmxpbmtydW5uZXIuc3RkbGliLmpzb24uRmxpbmtKc29uVHlwZVNlcmlhbGl6ZXJTbmFwc2hvdAAAAAM='),
  PRIMARY KEY (`customerid`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'jsonArrayTable_5',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `jsonConcatTable_6` (
  `customerid` BIGINT NOT NULL,
  `obj` RAW('com.datasqrl.flinkrunner.stdlib.json.FlinkJsonType', 'AERjb20uZGF0YXNxcmwuZmxpbmtydW5uZXIuc3RkbGliLmpzb24uRmxpbmtKc29uVHlwZVNlcmlhbGl6ZXJTbmFwc2hvdAAAAAM='),
  PRIMARY KEY (`customerid`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'jsonConcatTable_6',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `jsonExistsTable_7` (
  `customerid` BIGINT NOT NULL,
  `obj` BOOLEAN,
  PRIMARY KEY (`customerid`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'jsonExistsTable_7',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `jsonExtractTable_8` (
  `customerid` BIGINT NOT NULL,
  `obj` VARCHAR(2147483647) CHARACTER SET `UTF-16LE`,
  PRIMARY KEY (`customerid`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'jsonExtractTable_8',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `jsonObjectAggTable_9` (
  `name` VARCHAR(2147483647) CHARACTER SET `UTF-16LE` NOT NULL,
  `agg` RAW('com.datasqrl.flinkrunner.stdlib.json.FlinkJsonType', 'AERjb20uZGF0YXNxcmwuZmxpbmtydW5uZXIuc3RkbGliLmpzb24uRmxpbmtKc29uVHlwZVNlcmlhbGl6ZXJTbmFwc2hvdAAAAAM='),
  PRIMARY KEY (`name`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'jsonObjectAggTable_9',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `jsonQueryTable_10` (
  `customerid` BIGINT NOT NULL,
  `obj` VARCHAR(2147483647) CHARACTER SET `UTF-16LE`,
  PRIMARY KEY (`customerid`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'jsonQueryTable_10',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `jsonToStringTable_11` (
  `customerid` BIGINT NOT NULL,
  `obj` VARCHAR(2147483647) CHARACTER SET `UTF-16LE`,
  PRIMARY KEY (`customerid`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'jsonToStringTable_11',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `toJsonTable_12` (
  `customerid` BIGINT NOT NULL,
  `obj` RAW('com.datasqrl.flinkrunner.stdlib.json.FlinkJsonType', 'AERjb20uZGF0YXNxcmwuZmxpbmtydW5uZXIuc3RkbGliLmpzb24uRmxpbmtKc29uVHlwZVNlcmlhbGl6ZXJTbmFwc2hvdAAAAAM='),
  PRIMARY KEY (`customerid`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'toJsonTable_12',
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
INSERT INTO `default_catalog`.`default_database`.`ObjComplex_3`
SELECT *
FROM `default_catalog`.`default_database`.`ObjComplex`
;
INSERT INTO `default_catalog`.`default_database`.`jsonArrayAggTable_4`
SELECT *
FROM `default_catalog`.`default_database`.`jsonArrayAggTable`
;
INSERT INTO `default_catalog`.`default_database`.`jsonArrayTable_5`
SELECT *
FROM `default_catalog`.`default_database`.`jsonArrayTable`
;
INSERT INTO `default_catalog`.`default_database`.`jsonConcatTable_6`
SELECT *
FROM `default_catalog`.`default_database`.`jsonConcatTable`
;
INSERT INTO `default_catalog`.`default_database`.`jsonExistsTable_7`
SELECT *
FROM `default_catalog`.`default_database`.`jsonExistsTable`
;
INSERT INTO `default_catalog`.`default_database`.`jsonExtractTable_8`
SELECT *
FROM `default_catalog`.`default_database`.`jsonExtractTable`
;
INSERT INTO `default_catalog`.`default_database`.`jsonObjectAggTable_9`
SELECT *
FROM `default_catalog`.`default_database`.`jsonObjectAggTable`
;
INSERT INTO `default_catalog`.`default_database`.`jsonQueryTable_10`
SELECT *
FROM `default_catalog`.`default_database`.`jsonQueryTable`
;
INSERT INTO `default_catalog`.`default_database`.`jsonToStringTable_11`
SELECT *
FROM `default_catalog`.`default_database`.`jsonToStringTable`
;
INSERT INTO `default_catalog`.`default_database`.`toJsonTable_12`
SELECT *
FROM `default_catalog`.`default_database`.`toJsonTable`
;
END
