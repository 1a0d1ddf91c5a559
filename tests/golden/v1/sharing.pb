
ÙZÖ
2first
2again
2cycle
2
shared_map
2	map_again
2obj
2tensor
2tensor_again
	2late_idB

€x	B
x€Z
2$k2v€xj
pkg.NodeZ
2selfx€b	*ÿ€x	B
x€