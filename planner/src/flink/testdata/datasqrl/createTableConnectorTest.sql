CREATE TABLE `SensorReading` (
  `uuid` STRING NOT NULL,
  `sensorid` BIGINT NOT NULL,
  `epoch_timestamp` BIGINT NOT NULL,
  `temperature` DOUBLE NOT NULL,
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
);
CREATE VIEW `SensorTempByHour`
AS
SELECT `sensorid`, `window_time` AS `time_hour`, AVG(`temperature`) AS `avg_temperature`
FROM TABLE(TUMBLE(TABLE `SensorReading`, DESCRIPTOR(`timestamp`), INTERVAL '60' MINUTE))
GROUP BY `sensorid`, `window_start`, `window_end`, `window_time`;
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
CREATE TABLE `SensorTempByHour_2` (
  `sensorid` BIGINT NOT NULL,
  `time_hour` TIMESTAMP(3) WITH LOCAL TIME ZONE NOT NULL,
  `avg_temperature` DOUBLE NOT NULL,
  PRIMARY KEY (`sensorid`, `time_hour`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'SensorTempByHour_2',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
EXECUTE STATEMENT SET BEGIN
INSERT INTO `default_catalog`.`default_database`.`SensorReading_1`
SELECT `uuid`, `sensorid`, `epoch_timestamp`, `temperature`, `timestamp`, `hash_columns`(`uuid`, `sensorid`, `epoch_timestamp`, `temperature`, `timestamp`) AS `__pk_hash`
FROM `default_catalog`.`default_database`.`SensorReading`
;
INSERT INTO `default_catalog`.`default_database`.`SensorTempByHour_2`
SELECT *
FROM `default_catalog`.`default_database`.`SensorTempByHour`
;
END
