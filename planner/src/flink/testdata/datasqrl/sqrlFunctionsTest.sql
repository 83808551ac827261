CREATE VIEW `MyTable`
AS
SELECT `val`, COALESCE(`TO_TIMESTAMP_LTZ`(`val`, 3), TIMESTAMP '1970-01-01 00:00:00.000') AS `myTimestamp`
FROM (VALUES ROW(1),
   ROW(2)) AS `t` (`val`);
CREATE VIEW `MyTable2`
AS
SELECT `val`, COALESCE(`TO_TIMESTAMP_LTZ`(`val`, 3), TIMESTAMP '1970-01-01 00:00:00.000') AS `myTimestamp`
FROM (VALUES ROW(3),
   ROW(4)) AS `t` (`val`);
CREATE TABLE `MyTable_1` (
  `val` INTEGER NOT NULL,
  `myTimestamp` TIMESTAMP(3) WITH LOCAL TIME ZONE NOT NULL,
  PRIMARY KEY (`val`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'MyTable_1',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `MyTable2_2` (
  `val` INTEGER NOT NULL,
  `myTimestamp` TIMESTAMP(3) WITH LOCAL TIME ZONE NOT NULL,
  PRIMARY KEY (`val`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'MyTable2_2',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
EXECUTE STATEMENT SET BEGIN
INSERT INTO `default_catalog`.`default_database`.`MyTable_1`
SELECT *
FROM `default_catalog`.`default_database`.`MyTable`
;
INSERT INTO `default_catalog`.`default_database`.`MyTable2_2`
SELECT *
FROM `default_catalog`.`default_database`.`MyTable2`
;
END
