CREATE TABLE `SimpleInput` (
  `_uuid` STRING NOT NULL,
  `userid` INTEGER,
  `event_time` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
  WATERMARK FOR `event_time` AS `event_time` - INTERVAL '0.0' SECOND
)
WITH (
  'connector' = 'kafka-safe',
  'format' = 'flexible-json',
  'properties.auto.offset.reset' = 'earliest',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP_SERVERS}',
  'properties.compression.type' = 'zstd',
  'properties.group.id' = '${KAFKA_GROUP_ID}',
  'topic' = 'kafka-mutation-SimpleInput'
);
CREATE VIEW `_Input`
AS
SELECT *, `_uuid` AS `unique_id`
FROM `SimpleInput`;
CREATE VIEW `InputDistinct`
AS
SELECT `_uuid`, `userid`, `event_time`, `unique_id`
FROM (SELECT `_uuid`, `userid`, `event_time`, `unique_id`, ROW_NUMBER() OVER (PARTITION BY `userid` ORDER BY `event_time` DESC NULLS LAST) AS `__sqrlinternal_rownum`
  FROM `default_catalog`.`default_database`.`_Input`) AS `t`
WHERE `__sqrlinternal_rownum` = 1;
CREATE VIEW `JoinTable`
AS
SELECT `i2`.*, `i1`.`_uuid` AS `_uuid0`, `i1`.`unique_id` AS `unique_id0`
FROM `InputDistinct` AS `i2`
 INNER JOIN `_Input` AS `i1` ON `i1`.`userid` = `i2`.`userid`;
CREATE TABLE `InputDistinct_1` (
  `_uuid` VARCHAR(2147483647) CHARACTER SET `UTF-16LE` NOT NULL,
  `userid` INTEGER,
  `event_time` TIMESTAMP(3) WITH LOCAL TIME ZONE,
  `unique_id` VARCHAR(2147483647) CHARACTER SET `UTF-16LE` NOT NULL,
  `__pk_hash` CHAR(32) CHARACTER SET `UTF-16LE`,
  PRIMARY KEY (`__pk_hash`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'TIMESTAMP',
  'sink.on-conflict.timestamp-column' = 'event_time',
  'table-name' = 'InputDistinct_1',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `_Input_2` (
  `_uuid` VARCHAR(2147483647) CHARACTER SET `UTF-16LE` NOT NULL,
  `userid` INTEGER,
  `event_time` TIMESTAMP(3) WITH LOCAL TIME ZONE,
  `unique_id` VARCHAR(2147483647) CHARACTER SET `UTF-16LE` NOT NULL,
  PRIMARY KEY (`_uuid`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = '_Input_2',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
EXECUTE STATEMENT SET BEGIN
INSERT INTO `default_catalog`.`default_database`.`InputDistinct_1`
SELECT `_uuid`, `userid`, `event_time`, `unique_id`, `hash_columns`(`userid`) AS `__pk_hash`
FROM `default_catalog`.`default_database`.`_Input`
;
INSERT INTO `default_catalog`.`default_database`.`_Input_2`
SELECT *
FROM `default_catalog`.`default_database`.`_Input`
;
END
