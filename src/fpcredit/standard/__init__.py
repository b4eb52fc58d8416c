"""The data element standard (R1): elements, data sets, code tables, ID numbers, regions."""
