"""Packets timed as close to the wire as Linux allows, shared by the collectors that time them.

- ``timestamping``: sockets whose sends and receives carry kernel software timestamps.
"""
