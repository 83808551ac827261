CREATE TABLE `_SensorReading_schema` (
  `uuid` STRING NOT NULL,
  `sensorid` BIGINT NOT NULL,
  `epoch_timestamp` BIGINT NOT NULL,
  `temperature` DOUBLE NOT NULL
);
CREATE TABLE `SensorReading` (
  `timestamp` AS COALESCE(`TO_TIMESTAMP_LTZ`(`epoch_timestamp`, 3), TIMESTAMP '1970-01-01 00:00:00.000'),
  WATERMARK FOR `timestamp` AS `timestamp` - INTERVAL '0.001' SECOND
)
WITH (
  'connector' = 'datagen',
  'fields.epoch_timestamp.end' = '1719319565000',
  'fields.epoch_timestamp.kind' = 'sequence',
  'fields.epoch_timestamp.start' = '1719318565000',
  'fields.sensorid.end' = '9',
  'fields.sensorid.kind' = 'sequence',
  'fields.sensorid.start' = '0',
  'fields.temperature.kind' = 'random',
  'fields.uuid.kind' = 'random',
  'number-of-rows' = '1000'
)
LIKE `_SensorReading_schema`;
CREATE TABLE `SensorReadingMutation` (
  `testField` DOUBLE,
  `recordedTime` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
  WATERMARK FOR `recordedTime` AS `recordedTime` - INTERVAL '0.0' SECOND
)
WITH (
  'connector' = 'kafka-safe',
  'format' = 'flexible-json',
  'properties.auto.offset.reset' = 'earliest',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP_SERVERS}',
  'properties.compression.type' = 'zstd',
  'properties.group.id' = '${KAFKA_GROUP_ID}',
  'topic' = 'kafka-mutation-SensorReadingMutation'
)
LIKE `_SensorReading_schema`;
CREATE VIEW `SensorReadingInput`
AS
SELECT *
FROM `SensorReadingMutation`
WHERE `testField` > 0;
CREATE TABLE `SensorReading_1` (
  `uuid` VARCHAR(2147483647) CHARACTER SET `UTF-16LE` NOT NULL,
  `sensorid` BIGINT NOT NULL,
  `epoch_timestamp` BIGINT NOT NULL,
  `temperature` DOUBLE NOT NULL,
  `timestamp` TIMESTAMP(3) WITH LOCAL TIME ZONE NOT NULL,
  `__pk_hash` CHAR(32) CHARACTER SET `UTF-16LE`,
  PRIMARY KEY (`__pk_hash`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'SensorReading_1',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `SensorReadingInput_2` (
  `uuid` VARCHAR(2147483647) CHARACTER SET `UTF-16LE` NOT NULL,
  `sensorid` BIGINT NOT NULL,
  `epoch_timestamp` BIGINT NOT NULL,
  `temperature` DOUBLE NOT NULL,
  `testField` DOUBLE,
  `recordedTime` TIMESTAMP(3) WITH LOCAL TIME ZONE,
  `__pk_hash` CHAR(32) CHARACTER SET `UTF-16LE`,
  PRIMARY KEY (`__pk_hash`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'SensorReadingInput_2',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `SensorReadingMutation_3` (
  `uuid` VARCHAR(2147483647) CHARACTER SET `UTF-16LE` NOT NULL,
  `sensorid` BIGINT NOT NULL,
  `epoch_timestamp` BIGINT NOT NULL,
  `temperature` DOUBLE NOT NULL,
  `testField` DOUBLE,
  `recordedTime` TIMESTAMP(3) WITH LOCAL TIME ZONE,
  `__pk_hash` CHAR(32) CHARACTER SET `UTF-16LE`,
  PRIMARY KEY (`__pk_hash`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'SensorReadingMutation_3',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
EXECUTE STATEMENT SET BEGIN
INSERT INTO `default_catalog`.`default_database`.`SensorReading_1`
SELECT `uuid`, `sensorid`, `epoch_timestamp`, `temperature`, `timestamp`, `hash_columns`(`uuid`, `sensorid`, `epoch_timestamp`, `temperature`, `timestamp`) AS `__pk_hash`
FROM `default_catalog`.`default_database`.`SensorReading`
;
INSERT INTO `default_catalog`.`default_database`.`SensorReadingInput_2`
SELECT `uuid`, `sensorid`, `epoch_timestamp`, `temperature`, `testField`, `recordedTime`, `hash_columns`(`uuid`, `sensorid`, `epoch_timestamp`, `temperature`, `testField`, `recordedTime`) AS `__pk_hash`
FROM `default_catalog`.`default_database`.`SensorReadingInput`
;
INSERT INTO `default_catalog`.`default_database`.`SensorReadingMutation_3`
SELECT `uuid`, `sensorid`, `epoch_timestamp`, `temperature`, `testField`, `recordedTime`, `hash_columns`(`uuid`, `sensorid`, `epoch_timestamp`, `temperature`, `testField`, `recordedTime`) AS `__pk_hash`
FROM `default_catalog`.`default_database`.`SensorReadingMutation`
;
END
