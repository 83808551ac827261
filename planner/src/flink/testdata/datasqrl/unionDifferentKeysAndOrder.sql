CREATE TABLE `source_a` (
  `id_a` STRING,
  `val` STRING,
  PRIMARY KEY (`id_a`) NOT ENFORCED
)
WITH (
  'connector' = 'datagen'
);
CREATE TABLE `source_b` (
  `id_b` STRING,
  `val` STRING,
  PRIMARY KEY (`id_b`) NOT ENFORCED
)
WITH (
  'connector' = 'datagen'
);
CREATE VIEW `CombinedStream`
AS
SELECT `id_a`, `val`
FROM `source_a`
UNION ALL
SELECT `val`, `id_b`
FROM `source_b`;
CREATE TABLE `CombinedStream_1` (
  `id_a` VARCHAR(2147483647) CHARACTER SET `UTF-16LE`,
  `val` VARCHAR(2147483647) CHARACTER SET `UTF-16LE`,
  `__pk_hash` CHAR(32) CHARACTER SET `UTF-16LE`,
  PRIMARY KEY (`__pk_hash`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'CombinedStream_1',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `source_a_2` (
  `id_a` VARCHAR(2147483647) CHARACTER SET `UTF-16LE` NOT NULL,
  `val` VARCHAR(2147483647) CHARACTER SET `UTF-16LE`,
  PRIMARY KEY (`id_a`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'source_a_2',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
CREATE TABLE `source_b_3` (
  `id_b` VARCHAR(2147483647) CHARACTER SET `UTF-16LE` NOT NULL,
  `val` VARCHAR(2147483647) CHARACTER SET `UTF-16LE`,
  PRIMARY KEY (`id_b`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.on-conflict.action' = 'IGNORE',
  'table-name' = 'source_b_3',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
EXECUTE STATEMENT SET BEGIN
INSERT INTO `default_catalog`.`default_database`.`CombinedStream_1`
SELECT `id_a`, `val`, `hash_columns`(`id_a`, `val`) AS `__pk_hash`
FROM `default_catalog`.`default_database`.`CombinedStream`
;
INSERT INTO `default_catalog`.`default_database`.`source_a_2`
SELECT *
FROM `default_catalog`.`default_database`.`source_a`
;
INSERT INTO `default_catalog`.`default_database`.`source_b_3`
SELECT *
FROM `default_catalog`.`default_database`.`source_b`
;
END
