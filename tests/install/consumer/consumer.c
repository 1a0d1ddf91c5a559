/* Links the installed libmilo from C99: decodes a document and prints its value count. */
#include <milo/milo.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    const char* text = "{\"milo\": {\"format_version\": 1}, \"root\": [1, 2.5, \"x\"]}";
    milo_registry* reg = NULL;
    milo_doc* doc = NULL;
    milo_error err = MILO_ERROR_INIT;
    if (milo_registry_create(&reg, &err) != MILO_OK ||
        milo_doc_decode(reg, (const uint8_t*)text, strlen(text), "inline", NULL, &doc, &err) !=
            MILO_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("values=%zu abi=%u\n", milo_doc_value_count(doc), milo_abi_version_get());
    milo_doc_destroy(doc);
    milo_registry_destroy(reg);
    return 0;
}
