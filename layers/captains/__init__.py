"""Captain areas (包片联户) and role assignments of the people responsible for areas."""
