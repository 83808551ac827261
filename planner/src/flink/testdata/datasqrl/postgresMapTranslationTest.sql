CREATE VIEW `DuckDbTable`
AS
SELECT `user_id`, MAP['email', `email`, 'plan', `plan`] AS `attrs`
FROM (VALUES ROW(1, 'a@x.com', 'free'),
   ROW(2, 'b@x.com', 'pro')) AS `val` (`user_id`, `email`, `plan`);
CREATE VIEW `MyTable`
AS
SELECT *
FROM (VALUES ROW(1)) AS `val` (`num`);
CREATE TABLE `MyTable_1` (
  `num` INTEGER NOT NULL,
  `__pk_hash` INTEGER NOT NULL,
  PRIMARY KEY (`__pk_hash`) NOT ENFORCED
)
WITH (
  'connector' = 'jdbc-sqrl',
  'driver' = 'org.postgresql.Driver',
  'password' = '${POSTGRES_PASSWORD}',
  'table-name' = 'MyTable_1',
  'url' = 'jdbc:postgresql://${POSTGRES_AUTHORITY}',
  'username' = '${POSTGRES_USERNAME}'
);
EXECUTE STATEMENT SET BEGIN
INSERT INTO `default_catalog`.`default_database`.`MyTable_1`
SELECT `num`, 1 AS `__pk_hash`
FROM `default_catalog`.`default_database`.`MyTable`
;
END
