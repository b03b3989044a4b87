"""Persistence and services: tables, repositories, the audit chain, evidence files, and the
services that own every transaction. Pure decisions come from ``workflow``."""
