"""The network lab: namespaces, links and responders that the test run builds and tears down.

Nothing here has a route out of the lab: every namespace is created empty, its links lead only
to other lab namespaces, and no default route is ever added.
"""
