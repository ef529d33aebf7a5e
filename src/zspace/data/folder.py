def load_folder(request):
    raise NotImplementedError
