# The generated milo.v1 classes serve this suite as an independent oracle of the wire format.
target_link_libraries(${name} PRIVATE milo_pb_schema)
