"""Constructeurs de petits modèles de démonstration à poids aléatoires.

Ils reproduisent l'architecture des modèles de production (mêmes classes,
mêmes fichiers de configuration) en quelques mégaoctets, pour faire tourner
la passerelle et ses tests sans télécharger les vrais poids.
"""
