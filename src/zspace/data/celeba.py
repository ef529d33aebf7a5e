def load_celeba(request):
    raise NotImplementedError
