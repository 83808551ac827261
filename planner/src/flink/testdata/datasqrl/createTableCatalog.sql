CREATE DATABASE IF NOT EXISTS `iceberg`;
USE `iceberg`;
CREATE CATALOG `iceberg`
WITH (
  'type' = 'iceberg',
  'catalog-type' = 'hadoop',
  'warehouse' = 'file:///tmp/iceberg/warehouse'
);
USE CATALOG `iceberg`;
CREATE DATABASE IF NOT EXISTS `my_database`;
USE `my_database`;
CREATE TABLE IF NOT EXISTS `my_table` (
  `key_col` STRING,
  `int_col` INTEGER
)
WITH (
  'format-version' = '2'
);
USE CATALOG `default_catalog`;
CREATE DATABASE IF NOT EXISTS `default_database`;
USE `default_database`;
CREATE VIEW `Output`
AS
SELECT *
FROM `iceberg`.`my_database`.`my_table`;
CREATE TABLE `Output_1` (
  `key_col` VARCHAR(2147483647) CHARACTER SET `UTF-16LE`,
  `int_col` INTEGER,
  `__pk_hash` CHAR(32) CHARACTER SET `UTF-16LE`,
  PRIMARY KEY (`__pk_hash`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'Output_1',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
EXECUTE STATEMENT SET BEGIN
INSERT INTO `default_catalog`.`default_database`.`Output_1`
SELECT `key_col`, `int_col`, `hash_columns`(`key_col`) AS `__pk_hash`
FROM `default_catalog`.`default_database`.`Output`
;
END
