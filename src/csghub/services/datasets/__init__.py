"""The dataset viewer's engine: layout detection, conversion to Parquet, pages of rows, statistics, SQL console.

Pure library code over files on disk: the hub's jobs and routes decide which files, which commit and who may see
them; these modules only read and write the paths they are given.
"""
