/* Uses the installed C ABI from outside nk's tree, compiled as C: nk/nk.h and two functions of
 * libnk_c.so (so the link is checked, not only the include). It runs without a region, so
 * nk_region_attach() must say there is none. */
#include <stdio.h>
#include <string.h>

#include <nk/nk.h>

int main(void) {
    nk_region_t* region = NULL;
    const nk_result_t r = nk_region_attach(&region);
    if (r != NK_E_NOT_FOUND || strcmp(nk_result_str(r), "NK_E_NOT_FOUND") != 0) {
        fprintf(stderr, "nk_c_consumer: nk_region_attach() gave %s (%s), expected NK_E_NOT_FOUND\n",
                nk_result_str(r), nk_last_error());
        return 1;
    }
    printf("nk_c_consumer: nk_region_attach() without a region: %s\n", nk_result_str(r));
    return 0;
}
